"""Every action of the portal, with no Flask in it: one function owns its transaction and its
audit record, and the web pages, the command line and the tests all call the same function.

Words for people (error messages, labels) are marked with `portal.services.text`, which the web
app connects to Flask-Babel, so a service never imports the web framework.
"""

// Quick exit: leave for an ordinary website and take this page out of the back history.
// Without JavaScript the button is a plain link, which still works.
document.addEventListener("click", function (event) {
  var link = event.target.closest ? event.target.closest("a.quick-exit") : null;
  if (!link) { return; }
  event.preventDefault();
  window.location.replace(link.href);
});
// Enter on a radio button "presses" the form's first enabled submit button. Without script
// that is school.html's hidden one, which brings the page back with nothing sent; with it,
// Enter on a radio does nothing at all: only a press of "Send" sends.
document.addEventListener("keydown", function (event) {
  var target = event.target;
  if (event.key === "Enter" && target && target.form && target.type === "radio") {
    event.preventDefault();
  }
});
// A page that answers a form (the receipt, the conversation, a refusal) stays in the history
// under the front page's address: whoever goes Back on this phone gets the front page, not an
// offer to send the form again and see what it showed.
(function () {
  var front = document.body.getAttribute("data-forget");
  if (front && window.history.replaceState) { window.history.replaceState(null, "", front); }
})();

// The enrolment link carries its token after '#', which browsers never send: no server or
// proxy log sees it. This copies the link into the form, which posts it once, on a click
// (link previews in chat apps do not click), and keeps the token on the language links.
"use strict";
(function () {
  var field = document.getElementById("link");
  if (!field || location.hash.length < 2) {
    return;
  }
  field.value = location.href;
  document.getElementById("paste").hidden = true;
  document.getElementById("found").hidden = false;
  document.querySelectorAll(".staff-languages a").forEach(function (a) {
    a.hash = location.hash;
  });
})();

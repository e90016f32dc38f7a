// New reports while the inbox is open: every minute the same list is fetched in the background
// and, if it changed, the line kept for it says so (aria-live="polite"). The page itself is
// never reloaded under its reader, and the line's place is kept, so nothing moves.
(function () {
  var line = document.getElementById("inbox-news");
  if (!line || !window.fetch || !window.DOMParser) { return; }
  var state = line.getAttribute("data-state");
  var timer = window.setInterval(function () {
    window.fetch(window.location.href, { credentials: "same-origin", cache: "no-store" })
      .then(function (response) { return response.ok ? response.text() : ""; })
      .then(function (html) {
        var drawn = new DOMParser().parseFromString(html, "text/html");
        var fresh = drawn.getElementById("inbox-news");
        if (fresh && fresh.getAttribute("data-state") !== state) {
          line.querySelector(".news").hidden = false;
          window.clearInterval(timer);
        }
      })
      .catch(function () { /* offline for a moment: look again next minute */ });
  }, 60000);
})();

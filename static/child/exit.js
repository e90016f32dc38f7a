// Quick exit: leave for an ordinary website and take this page out of the back history.
// Without JavaScript the button is a plain link, which still works.
document.addEventListener("click", function (event) {
  var link = event.target.closest ? event.target.closest("a.quick-exit") : null;
  if (!link) { return; }
  event.preventDefault();
  window.location.replace(link.href);
});

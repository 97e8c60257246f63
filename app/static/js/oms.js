/* Waybill's page behaviour, in a file: the Content Security Policy allows no inline
   script or event handler (app/security/headers.py). */

/* Ask before destructive form posts (buttons with data-confirm). */
document.addEventListener("click", function (event) {
  var button = event.target.closest ? event.target.closest("[data-confirm]") : null;
  if (button && !window.confirm(button.getAttribute("data-confirm"))) {
    event.preventDefault();
  }
});

/* A "select all" checkbox ticks the boxes its data-select-all selector names. */
document.addEventListener("change", function (event) {
  var box = event.target;
  var selector = box.getAttribute && box.getAttribute("data-select-all");
  if (!selector) {
    return;
  }
  document.querySelectorAll(selector).forEach(function (other) {
    other.checked = box.checked;
  });
});

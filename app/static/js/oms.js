/* Waybill's page behaviour, in a file: the Content Security Policy allows no inline
   script or event handler (app/security/headers.py). */

/* Ask before destructive form posts (buttons with data-confirm). */
document.addEventListener("click", function (event) {
  var button = event.target.closest ? event.target.closest("[data-confirm]") : null;
  if (button && !window.confirm(button.getAttribute("data-confirm"))) {
    event.preventDefault();
  }
});

/* A "select all" box: <input type="checkbox" data-check-all="#form-id"> ticks the boxes
   named ids that belong to that form (inside it or tied to it with form=). */
document.addEventListener("change", function (event) {
  var box = event.target;
  var selector = box.getAttribute && box.getAttribute("data-check-all");
  if (!selector) { return; }
  var form = document.querySelector(selector);
  if (!form) { return; }
  Array.prototype.forEach.call(form.elements, function (element) {
    if (element.name === "ids" && element.type === "checkbox") { element.checked = box.checked; }
  });
});

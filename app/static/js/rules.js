/* Rules editor: operators follow the chosen field; rows can be added and removed. */
(function () {
  var node = document.getElementById("oms-rule-vocabulary");
  if (!node) { return; }
  var vocab = JSON.parse(node.textContent);

  function fillOperators(row) {
    var field = row.querySelector(".oms-cond-field").value;
    var select = row.querySelector(".oms-cond-op");
    var value = row.querySelector(".oms-cond-value");
    var current = select.value;
    var ops = field && vocab.fields[field] ? vocab.fields[field].operators : Object.keys(vocab.operators);
    select.innerHTML = "";
    var blank = document.createElement("option");
    blank.value = ""; blank.textContent = "— operator —"; select.appendChild(blank);
    ops.forEach(function (op) {
      var option = document.createElement("option");
      option.value = op; option.textContent = vocab.operators[op];
      if (op === current) { option.selected = true; }
      select.appendChild(option);
    });
    if (field && vocab.fields[field]) { value.title = vocab.fields[field].help || ""; }
    toggleValue(row);
  }

  function toggleValue(row) {
    var op = row.querySelector(".oms-cond-op").value;
    var value = row.querySelector(".oms-cond-value");
    var none = vocab.no_value_operators.indexOf(op) >= 0;
    value.disabled = none;
    value.placeholder = none ? "" : (vocab.list_operators.indexOf(op) >= 0 ? "one or more, comma-separated" : "value");
  }

  document.addEventListener("change", function (event) {
    var row = event.target.closest(".oms-cond-row");
    if (!row) { return; }
    if (event.target.classList.contains("oms-cond-field")) { fillOperators(row); }
    if (event.target.classList.contains("oms-cond-op")) { toggleValue(row); }
  });

  document.addEventListener("click", function (event) {
    var add = event.target.closest("[data-add-row]");
    if (add) {
      var body = document.querySelector("#" + add.getAttribute("data-add-row") + " tbody");
      var last = body.lastElementChild;
      var copy = last.cloneNode(true);
      copy.classList.remove("danger");
      copy.querySelectorAll(".help-block").forEach(function (e) { e.remove(); });
      copy.querySelectorAll("input").forEach(function (e) { e.value = ""; e.disabled = false; });
      copy.querySelectorAll("select").forEach(function (e) { e.selectedIndex = 0; });
      body.appendChild(copy);
      return;
    }
    var remove = event.target.closest(".oms-remove-row");
    if (remove) {
      var tr = remove.closest("tr");
      if (tr.parentNode.children.length > 1) { tr.remove(); }
      else { tr.querySelectorAll("input").forEach(function (e) { e.value = ""; });
             tr.querySelectorAll("select").forEach(function (e) { e.selectedIndex = 0; }); }
    }
  });

  document.querySelectorAll(".oms-cond-row").forEach(toggleValue);
  /* A disabled input is not posted: keep the value lists aligned. */
  var form = document.getElementById("oms-rule-form");
  if (form) {
    form.addEventListener("submit", function () {
      form.querySelectorAll(".oms-cond-value").forEach(function (e) { e.disabled = false; });
    });
  }
})();

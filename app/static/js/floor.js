/* The warehouse floor's scanning pages (app/views/floor.py). A scanner is a keyboard that
   ends each code with Enter: one input keeps the focus, every Enter is one scan. Every
   decision is the server's (the pick list and pack APIs); a refusal turns the message red
   and beeps. */
(function () {
  "use strict";
  /* End of day: a label bought and not shipped is voided (through the outbox) or ship
     confirmed; "Ship all" confirms a warehouse's at once. Each button names its URL, its
     question and its JSON body. */
  document.addEventListener("click", function (event) {
    var button = event.target.closest ? event.target.closest("[data-post]") : null;
    if (!button || !window.confirm(button.getAttribute("data-question"))) { return; }
    button.disabled = true;
    fetch(button.getAttribute("data-post"), {method: "POST", credentials: "same-origin",
      headers: {"Content-Type": "application/json", "Accept": "application/json",
                "X-CSRFToken": button.getAttribute("data-csrf")}, body: button.getAttribute("data-body") || "{}"})
      .then(function (r) { return r.json().then(function (d) { return {ok: r.ok, d: d}; }); })
      .then(function (res) {
        var result = res.d.result || {};
        if (!res.ok) { button.textContent = res.d.message || "refused"; return; }
        button.textContent = result.shipped ? result.shipped.length + " shipped, " + result.waiting.length + " waiting"
                                            : button.getAttribute("data-done");
      });
  });

  // --- the new pick list's preview (home page) ---------------------------------------------------
  var preview = document.querySelector("[data-pick-preview]");
  if (preview) {
    preview.addEventListener("click", function () {
      var f = preview.form;
      var filters = {};
      ["shipping_method", "priority", "ship_by_before", "max_orders", "max_units"].forEach(function (k) {
        if (f.elements[k].value) { filters[k] = f.elements[k].value; }
      });
      if (f.elements.single_item.checked) { filters.single_item = true; }
      var out = f.querySelector(".oms-preview");
      var token = f.elements.csrf_token.value;
      fetch(preview.getAttribute("data-url") || "/api/v1/pick_list/preview", {
        method: "POST", credentials: "same-origin",
        headers: {"Content-Type": "application/json", "Accept": "application/json", "X-CSRFToken": token},
        body: JSON.stringify({warehouse_id: parseInt(f.elements.warehouse_id.value, 10), filters: filters})
      }).then(function (r) { return r.json(); }).then(function (data) {
        out.textContent = data.result ? data.result.orders + " orders, " + data.result.units + " units: " +
          data.result.order_numbers.slice(0, 20).join(", ") : (data.message || "refused");
      });
    });
  }

  var root = document.querySelector(".oms-floor");
  if (!root) { return; }
  var input = root.querySelector(".oms-scan");
  var message = root.querySelector(".oms-floor-message");
  var prompt = root.querySelector(".oms-floor-prompt");
  var csrf = root.getAttribute("data-csrf");
  var audio = null;

  function beep() {
    try {
      audio = audio || new (window.AudioContext || window.webkitAudioContext)();
      var osc = audio.createOscillator();
      osc.type = "square";
      osc.frequency.value = 220;
      osc.connect(audio.destination);
      osc.start();
      osc.stop(audio.currentTime + 0.35);
    } catch (e) { /* no sound device: the red message still says it */ }
  }

  function say(text, ok) {
    message.textContent = text;
    message.className = "oms-floor-message " + (ok ? "oms-ok" : "oms-error");
    if (!ok) { beep(); }
  }

  function call(method, url, body) {
    var options = {method: method, credentials: "same-origin",
                   headers: {"Accept": "application/json", "X-CSRFToken": csrf}};
    if (body !== undefined) {
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body);
    }
    return fetch(url, options).then(function (response) {
      return response.json().catch(function () { return {}; }).then(function (data) {
        return {ok: response.ok, status: response.status, data: data};
      });
    });
  }

  function refusal(result) {
    var data = result.data || {};
    var errors = data.errors || {};
    var first = Object.keys(errors).map(function (k) { return errors[k][0]; })[0];
    return first || data.message || ("refused (" + result.status + ")");
  }

  /* The field keeps the focus: a handheld has no mouse, a scan must never go elsewhere. */
  function keepFocus() { if (document.activeElement !== input) { input.focus(); } }
  document.addEventListener("click", function (e) {
    if (!e.target.closest("select, input, button, a")) { keepFocus(); }
  });
  input.addEventListener("blur", function () {
    setTimeout(function () {
      if (!document.activeElement || document.activeElement === document.body) { keepFocus(); }
    }, 50);
  });
  keepFocus();

  function onScan(handler) {
    input.addEventListener("keydown", function (e) {
      if (e.key !== "Enter") { return; }
      e.preventDefault();
      var code = input.value.trim();
      input.value = "";
      if (code) { handler(code); }
    });
  }

  // --- picking -------------------------------------------------------------------------------
  if (root.getAttribute("data-floor") === "pick") {
    var api = root.getAttribute("data-api");
    var shortButton = root.querySelector(".oms-short");
    var state = {bin: null, quantity: 1, lastItem: null};
    var rows = function () { return Array.prototype.slice.call(root.querySelectorAll("tbody tr")); };
    var isBin = function (code) {
      return rows().some(function (r) { return r.getAttribute("data-bin").toUpperCase() === code.toUpperCase(); });
    };
    var stopAt = function (bin) {
      return rows().filter(function (r) {
        return r.getAttribute("data-bin").toUpperCase() === (bin || "").toUpperCase() && !r.classList.contains("oms-stop-done");
      })[0];
    };

    var refresh = function () {
      return call("GET", api).then(function (result) {
        if (!result.ok) { return; }
        var list = result.data.result;
        root.querySelector(".oms-pick-status").textContent = list.status;
        rows().forEach(function (row) {
          var picked = 0, short = 0, quantity = 0;
          list.lines.forEach(function (l) {
            if ((l.bin || "") === row.getAttribute("data-bin") && l.sku === row.getAttribute("data-sku")) {
              picked += l.quantity_picked; short += l.quantity_short; quantity += l.quantity;
            }
          });
          row.querySelector(".oms-stop-count").textContent = picked + " / " + quantity + (short ? " (" + short + " short)" : "");
          row.classList.toggle("oms-stop-done", picked + short >= quantity);
        });
      });
    };

    onScan(function (code) {
      if (isBin(code)) {
        state.bin = code;
        state.lastItem = null;
        shortButton.disabled = !stopAt(code);
        prompt.textContent = "Bin " + code + ": scan the item";
        say("Bin " + code, true);
        return;
      }
      if (/^\d{1,3}$/.test(code)) {  // a typed quantity for the next scan
        state.quantity = parseInt(code, 10);
        say("Next scan counts " + state.quantity, true);
        return;
      }
      if (!state.bin) { say("Scan the bin first", false); return; }
      var quantity = state.quantity;
      state.quantity = 1;
      call("POST", api + "/scan", {bin: state.bin, item: code, quantity: quantity}).then(function (result) {
        if (!result.ok) { say(refusal(result), false); return; }
        state.lastItem = code;
        var slots = result.data.result.slots.map(function (s) { return "slot " + s.slot + " ×" + s.quantity; });
        say(result.data.result.sku + " → " + slots.join(", "), true);
        refresh().then(function () { shortButton.disabled = !stopAt(state.bin); });
      });
    });

    shortButton.addEventListener("click", function () {
      var stop = stopAt(state.bin);
      if (!stop) { say("Nothing left to pick at this bin", false); return; }
      call("POST", api + "/short", {bin: state.bin, item: stop.getAttribute("data-sku")}).then(function (result) {
        if (!result.ok) { say(refusal(result), false); keepFocus(); return; }
        var missing = result.data.result.shorts.reduce(function (n, s) { return n + s.missing; }, 0);
        say("Short: " + missing + " × " + result.data.result.sku + " counted missing, sent back to allocation", true);
        refresh().then(function () { shortButton.disabled = !stopAt(state.bin); keepFocus(); });
      });
    });
  }

  /* Bulk labels: one call per list; each order shipped or its failure with the carrier's reason. */
  var bulk = root.querySelector("[data-bulk]");
  if (bulk) {
    bulk.querySelector(".oms-bulk-buy").addEventListener("click", function () {
      var v = function (n) { return bulk.elements[n].value; };
      var out = root.querySelector(".oms-bulk-result");
      out.textContent = "Buying…";
      call("POST", bulk.getAttribute("data-bulk"), {
        packages: [{weight_kg: v("weight_kg"), length_cm: v("length_cm"), width_cm: v("width_cm"), height_cm: v("height_cm")}],
        carrier: v("carrier") || null}).then(function (result) {
        out.textContent = "";
        if (!result.ok) { say(refusal(result), false); return; }
        var add = function (text, bad) {
          var li = document.createElement("li");
          li.textContent = text;
          if (bad) { li.className = "text-danger"; }
          out.appendChild(li);
        };
        result.data.result.shipped.forEach(function (s) { add("order " + s.order_id + ": " + (s.tracking_number || s.status), false); });
        result.data.result.failed.forEach(function (f) { add("order " + f.order_id + ": " + f.message, true); });
        say(result.data.result.shipped.length + " shipped, " + result.data.result.failed.length + " failed",
            !result.data.result.failed.length);
      });
    });
  }

  // --- packing -------------------------------------------------------------------------------
  if (root.getAttribute("data-floor") === "pack") {
    var order = null;
    var tbody = root.querySelector(".oms-pack-lines tbody");
    var form = root.querySelector(".oms-pack-form");
    var resultBox = root.querySelector(".oms-pack-result");
    var url = function (name, id) { return root.getAttribute("data-" + name).replace(/0$/, String(id)); };

    var render = function () {
      tbody.innerHTML = "";
      order.lines.forEach(function (line) {
        var tr = document.createElement("tr");
        var expected = line.picked - line.packed;
        [line.sku, line.title, line.scanned + " / " + expected].forEach(function (text) {
          var td = document.createElement("td");
          td.textContent = text;
          tr.appendChild(td);
        });
        tr.className = line.scanned >= expected ? "oms-stop-done" : "";
        tbody.appendChild(tr);
      });
      var complete = order.lines.every(function (l) { return l.scanned >= l.picked - l.packed; });
      form.style.display = complete ? "" : "none";
      prompt.textContent = complete ? "All scanned: weigh, then Label & ship" : "Scan each item";
    };

    var loadOrder = function (code) {
      call("GET", root.getAttribute("data-lookup").replace("CODE", encodeURIComponent(code))).then(function (result) {
        if (!result.ok) { say(refusal(result), false); return; }
        order = result.data.result;
        order.lines.forEach(function (l) { l.scanned = 0; });
        root.querySelector(".oms-pack-order").textContent = "Order " + order.order_number + " · " + (order.customer_name || "");
        resultBox.innerHTML = "";
        say("Order " + order.order_number, true);
        render();
      });
    };

    onScan(function (code) {
      if (!order) { loadOrder(code); return; }  // the first scan names the order (or its slot)
      var upper = code.toUpperCase();
      var line = order.lines.filter(function (l) {
        return l.sku.toUpperCase() === upper || (l.barcode || "").toUpperCase() === upper;
      })[0];
      if (!line) { say(code + " is not in this order", false); return; }
      if (line.scanned >= line.picked - line.packed) { say(line.sku + " is already complete", false); return; }
      line.scanned += 1;
      say(line.sku + " ✓", true);
      render();
    });

    root.querySelector(".oms-ship").addEventListener("click", function () {
      var items = {};
      order.lines.forEach(function (l) { if (l.scanned) { items[String(l.order_line_id)] = l.scanned; } });
      var value = function (name) { return form.querySelector("[name=" + name + "]").value; };
      var body = {items: items, packages: [{weight_kg: value("weight_kg"), length_cm: value("length_cm"),
                                            width_cm: value("width_cm"), height_cm: value("height_cm")}],
                  carrier: value("carrier") || null, tracking_number: value("tracking_number") || null};
      say("Buying the label…", true);
      call("POST", url("ship", order.order_id), body).then(function (result) {
        if (!result.ok) { say(refusal(result), false); keepFocus(); return; }
        var shipment = result.data.result;
        say("Shipped: shipment " + shipment.id + (shipment.tracking_number ? " · " + shipment.tracking_number : "") +
            (shipment.label_printer ? " · label sent to the printer " + shipment.label_printer : ""), true);
        resultBox.innerHTML = "";
        var links = [["Packing slip", url("slip", order.order_id)], ["Order", url("order-page", order.order_id)]];
        if (shipment.carrier !== "manual") { links.unshift(["Label", url("label", shipment.id)]); }
        links.forEach(function (pair) {
          var a = document.createElement("a");
          a.href = pair[1]; a.textContent = pair[0]; a.target = "_blank"; a.className = "btn btn-default oms-pack-link";
          resultBox.appendChild(a);
        });
        form.style.display = "none";
        order = null;
        prompt.textContent = "Scan the next order";
        keepFocus();
      });
    });
  }

}());

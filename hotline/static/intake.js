/* Intake form enhancements (the form works without them):
   - the duplicate hint updates as the agent types the phone number or the request;
   - the department picker offers only the chosen region's departments;
   - Ctrl+Enter in the request text creates the ticket. */
(function () {
  "use strict";
  var form = document.getElementById("intake-form");
  if (!form) { return; }
  var hint = document.getElementById("duplicate-hint");
  var phone = document.getElementById("caller_phone");
  var content = document.getElementById("content");
  var region = document.getElementById("region_code");
  var timer = null;
  var lastQuery = "";

  function code(value) { return (value || "").trim().split(/\s+/)[0] || ""; }

  function render(items) {
    hint.textContent = "";
    if (!items.length) {
      var none = document.createElement("p");
      none.className = "muted";
      none.textContent = form.dataset.noneLabel;
      hint.appendChild(none);
      return;
    }
    var list = document.createElement("ul");
    items.forEach(function (item) {
      var li = document.createElement("li");
      var link = document.createElement("a");
      link.href = form.dataset.ticketUrl.replace("NUMBER", encodeURIComponent(item.number));
      link.textContent = item.number;
      li.appendChild(link);
      var reason = item.reason === "phone" ? form.dataset.phoneLabel : form.dataset.textLabel;
      li.appendChild(document.createTextNode(" " + item.created_at.slice(0, 16).replace("T", " ") +
        " · " + reason + " — " + item.content.slice(0, 60)));
      list.appendChild(li);
    });
    hint.appendChild(list);
  }

  function check() {
    var params = new URLSearchParams({
      phone: phone.value.trim(), text: content.value.trim(), region: code(region.value)
    });
    var query = params.toString();
    if (query === lastQuery) { return; }
    lastQuery = query;
    if (phone.value.replace(/\D/g, "").length < 7 && content.value.trim().length < 4) { hint.textContent = ""; return; }
    fetch(form.dataset.duplicatesUrl + "?" + query, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.ok ? r.json() : []; })
      .then(function (items) { if (query === lastQuery) { render(items); } })
      .catch(function () { /* the hint is a help, never a blocker */ });
  }

  function later() { clearTimeout(timer); timer = setTimeout(check, 250); }
  [phone, content, region].forEach(function (el) {
    el.addEventListener("input", later);
    el.addEventListener("change", check);
  });

  var list = document.getElementById("department-list");
  var all = list ? Array.prototype.slice.call(list.options).map(function (o) { return o.cloneNode(true); }) : [];
  function narrow() {
    var chosen = code(region.value);
    if (!list) { return; }
    list.textContent = "";
    all.forEach(function (o) { if (!chosen || o.dataset.region === chosen) { list.appendChild(o.cloneNode(true)); } });
  }
  region.addEventListener("change", narrow);
  region.addEventListener("input", narrow);
  narrow();

  content.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
      event.preventDefault();
      form.requestSubmit(document.getElementById("create-ticket"));
    }
  });
}());

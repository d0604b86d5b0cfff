// The callback workbench, keyboard-first: a number key picks the outcome, Enter records it and
// moves on to the next callback due. Typing in a text field is never intercepted.
(function () {
  "use strict";
  function typing(target) {
    var tag = target && target.tagName;
    return tag === "TEXTAREA" || tag === "SELECT" || (tag === "INPUT" && target.type !== "radio");
  }
  var form = document.getElementById("outcome-form");
  var next = document.getElementById("work-next");
  if (!form) {
    // The worklist: N opens the next callback due.
    document.addEventListener("keydown", function (event) {
      if (next && (event.key === "n" || event.key === "N") && !event.ctrlKey && !event.metaKey && !event.altKey
          && !typing(event.target)) {
        event.preventDefault();
        window.location.assign(next.href);
      }
    });
    return;
  }


  document.addEventListener("keydown", function (event) {
    if (event.altKey || event.ctrlKey || event.metaKey || typing(event.target)) { return; }
    if (/^[1-9]$/.test(event.key)) {
      var choice = form.querySelector('input[name="outcome"][data-key="' + event.key + '"]');
      if (choice) {
        choice.checked = true;
        choice.focus();
        event.preventDefault();
      }
    } else if (event.key === "Enter" && form.querySelector('input[name="outcome"]:checked')) {
      event.preventDefault();
      form.requestSubmit(document.getElementById("record-next"));
    }
  });
})();

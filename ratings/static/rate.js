// Optional enhancements of the rating form; it works fully without this file.
(function () {
  "use strict";
  var form = document.getElementById("rate-form");
  if (!form) { return; }
  var reasons = document.getElementById("reasons");
  var supportsHas = window.CSS && CSS.supports && CSS.supports("selector(:has(a))");

  // Show the reason tags only for a bad level where CSS :has() cannot do it.
  function syncReasons() {
    if (supportsHas || !reasons) { return; }
    var bad = form.querySelector("input[data-bad]:checked");
    reasons.classList.toggle("js-hidden", !bad);
  }
  form.addEventListener("change", syncReasons);
  syncReasons();

  // Characters left in the comment.
  var comment = document.getElementById("comment");
  var hint = document.getElementById("comment-hint");
  if (comment && hint) {
    var original = hint.textContent;
    var max = parseInt(comment.getAttribute("maxlength"), 10);
    comment.addEventListener("input", function () {
      hint.textContent = original + " (" + (max - comment.value.length) + ")";
    });
  }

  // One tap, one rating: ignore a second submit while the first is on its way.
  var sent = false;
  form.addEventListener("submit", function (event) {
    if (sent) { event.preventDefault(); return; }
    sent = true;
    var button = document.getElementById("submit-rating");
    if (button) { button.setAttribute("aria-disabled", "true"); }
  });
})();

/* The tracker's own script: small behaviours bound here, never in inline attributes,
   so the Content-Security-Policy can refuse every inline script. */
(function () {
  "use strict";
  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-action=print]");
    if (button) {
      window.print();
    }
  });
})();

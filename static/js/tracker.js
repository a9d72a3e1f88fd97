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

  // After a form is handled in place, put the keyboard focus where the answer is: the
  // first field in error, else the message saying what was saved. Without this, focus
  // fell back to <body> and a screen reader user heard nothing.
  function focusAnswer(root) {
    var target =
      root.querySelector("[aria-invalid=true]") ||
      root.querySelector(".has-error input, .has-error select, .has-error textarea") ||
      root.querySelector(".form-errors") ||
      root.querySelector(".messages");
    if (!target) {
      return;
    }
    if (!target.matches("input, select, textarea, button, a[href]") && !target.hasAttribute("tabindex")) {
      target.setAttribute("tabindex", "-1");
    }
    target.focus();
  }

  document.addEventListener("htmx:afterSettle", function (event) {
    var verb = event.detail.requestConfig && event.detail.requestConfig.verb;
    var panel = document.getElementById("commitment-panel");
    if (!panel) {
      return;
    }
    if (verb === "post") {
      focusAnswer(panel);
    } else {
      // An action chosen in the Update panel: focus its first field.
      var field = panel.querySelector(
        ".forms form.stacked :is(select, textarea, input:not([type=hidden]))"
      );
      if (field) {
        field.focus();
      }
    }
  });

  // On a phone the filter panel starts folded, so the first result is on the first screen.
  document.addEventListener("DOMContentLoaded", function () {
    if (!window.matchMedia("(max-width: 40rem)").matches) {
      return;
    }
    document.querySelectorAll("details.filter-panel[open]").forEach(function (panel) {
      if (!panel.querySelector(".has-error")) {
        panel.removeAttribute("open");
      }
    });
  });

  // A page that arrives with form errors (without htmx, or after a conflict): focus the
  // first error too.
  document.addEventListener("DOMContentLoaded", function () {
    if (document.querySelector(".has-error, .form-errors")) {
      focusAnswer(document);
    }
  });
})();

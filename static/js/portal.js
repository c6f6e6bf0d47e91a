/* Portal behaviour: progressive enhancement only; every page works without it. */
(function () {
  "use strict";

  function onReady(fn) {
    if (document.readyState !== "loading") { fn(); } else { document.addEventListener("DOMContentLoaded", fn); }
  }

  // Dialogs: [data-dialog-open=ID] shows the element with that id; [data-dialog-close] hides it.
  function wireDialogs() {
    var lastOpener = null;
    document.querySelectorAll("[data-dialog-open]").forEach(function (button) {
      button.addEventListener("click", function () {
        var dialog = document.getElementById(button.getAttribute("data-dialog-open"));
        if (!dialog) { return; }
        lastOpener = button;
        dialog.hidden = false;
        var first = dialog.querySelector("input:not([type=hidden]), button");
        if (first) { first.focus(); }
      });
    });
    document.querySelectorAll("[data-dialog-close]").forEach(function (button) {
      button.addEventListener("click", function () {
        var dialog = button.closest("[role=dialog]");
        if (dialog) { dialog.hidden = true; }
        if (lastOpener) { lastOpener.focus(); }
      });
    });
    document.addEventListener("keydown", function (event) {
      var open = document.querySelector("[role=dialog]:not([hidden])");
      if (!open) { return; }
      if (event.key === "Escape") {
        document.querySelectorAll("[role=dialog]:not([hidden])").forEach(function (d) { d.hidden = true; });
        if (lastOpener) { lastOpener.focus(); }
        return;
      }
      // aria-modal: Tab and Shift+Tab go round inside the open dialog.
      if (event.key !== "Tab") { return; }
      var items = focusablesIn(open);
      if (!items.length) { return; }
      var first = items[0], last = items[items.length - 1], inside = open.contains(document.activeElement);
      if (event.shiftKey && (!inside || document.activeElement === first)) {
        event.preventDefault(); last.focus();
      } else if (!event.shiftKey && (!inside || document.activeElement === last)) {
        event.preventDefault(); first.focus();
      }
    });
    // A server-side error for the dialog's form: show the dialog again with it, focused.
    document.querySelectorAll("[role=dialog] [data-cert-error]").forEach(function (el) {
      if (!el.textContent.trim()) { return; }
      var dialog = el.closest("[role=dialog]");
      dialog.hidden = false;
      lastOpener = document.querySelector("[data-dialog-open='" + dialog.id + "']");
      var first = focusablesIn(dialog)[0];
      if (first) { first.focus(); }
    });
  }

  function focusablesIn(root) {
    var selector = "a[href], button, input:not([type=hidden]), select, textarea, [tabindex]:not([tabindex='-1'])";
    return Array.prototype.filter.call(root.querySelectorAll(selector), function (el) {
      return !el.disabled && el.getClientRects().length > 0;
    });
  }

  // The 3-minute code countdown.
  function wireCountdowns() {
    document.querySelectorAll("[data-countdown]").forEach(function (el) {
      var end = Date.parse(el.getAttribute("data-countdown"));
      if (isNaN(end)) { return; }
      function tick() {
        var left = Math.max(0, Math.round((end - Date.now()) / 1000));
        var m = Math.floor(left / 60), s = left % 60;
        el.textContent = left > 0 ? ("남은 시간 " + m + ":" + (s < 10 ? "0" : "") + s) : "인증 시간이 지났습니다. 인증번호를 다시 받으세요.";
        el.classList.toggle("expired", left === 0);
        if (left > 0) { window.setTimeout(tick, 1000); }
      }
      tick();
    });
  }

  // '중복검사' as a live check; the form's own button still works without script.
  function wireIdCheck() {
    var input = document.querySelector("[data-check-id-url]");
    var button = document.querySelector("[data-check-id]");
    var result = document.getElementById("username-result");
    if (!input || !button || !result) { return; }
    button.addEventListener("click", function (event) {
      event.preventDefault();
      var url = input.getAttribute("data-check-id-url") + "?username=" + encodeURIComponent(input.value);
      fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
        .then(function (r) { return r.json(); })
        .then(function (data) {
          // The live check stores nothing; the form's next post carries the checked ID and
          // the server checks it again there.
          var checked = button.form.querySelector("[data-checked-id]");
          if (checked) { checked.value = data.ok ? input.value : ""; }
          result.textContent = data.message;
          result.className = data.ok ? "success" : "error";
          input.setAttribute("aria-invalid", data.ok ? "false" : "true");
        })
        .catch(function () { button.form.requestSubmit(button); });
    });
  }

  // Approving-body picker: a search box filters the options by region or name.
  function wirePickers() {
    document.querySelectorAll("[data-body-picker]").forEach(function (picker) {
      var filter = picker.querySelector("[data-picker-filter]");
      var select = picker.querySelector("[data-picker-select]");
      if (!filter || !select) { return; }
      filter.hidden = false;
      filter.addEventListener("input", function () {
        var q = filter.value.trim();
        select.querySelectorAll("option[data-search]").forEach(function (opt) {
          var hit = !q || opt.getAttribute("data-search").indexOf(q) !== -1;
          opt.hidden = !hit;
          opt.disabled = !hit && !opt.selected;
        });
        select.querySelectorAll("optgroup").forEach(function (group) {
          group.hidden = !group.querySelector("option:not([hidden])");
        });
      });
    });
  }

  // A double click sends a form once.
  function wireOnce() {
    document.querySelectorAll("form").forEach(function (form) {
      form.addEventListener("submit", function (event) {
        if (form.dataset.sending === "1" && form.querySelector("[data-once]")) { event.preventDefault(); return; }
        form.dataset.sending = "1";
        window.setTimeout(function () { form.dataset.sending = ""; }, 5000);
      });
    });
  }

  // Confirmation for destructive buttons.
  function wireConfirm() {
    document.querySelectorAll("[data-confirm]").forEach(function (el) {
      el.addEventListener("click", function (event) {
        var text = el.getAttribute("data-confirm");
        // data-confirm-count="grant": name how many ticked boxes of that name the form holds.
        var counted = el.getAttribute("data-confirm-count");
        if (counted && el.form) {
          var n = el.form.querySelectorAll('input[name="' + counted + '"]:checked').length;
          if (n === 0) { return; }  // the server says what to tick
          text = text.replace("{count}", String(n));
        }
        if (!window.confirm(text)) { event.preventDefault(); }
      });
    });
  }

  // After a form's round trip, put the focus where the answer is: the first field in error,
  // else the first error message, else the message that reports success. Ordinary
  // navigation keeps the browser's own focus (the top of the page).
  var SUBMITTED = "kdcis-submitted";
  function wireFocusAfterSubmit() {
    document.addEventListener("submit", function () {
      try { window.sessionStorage.setItem(SUBMITTED, "1"); } catch (e) { /* private mode */ }
    });
    var submitted = false;
    try {
      submitted = window.sessionStorage.getItem(SUBMITTED) === "1";
      window.sessionStorage.removeItem(SUBMITTED);
    } catch (e) { return; }
    if (!submitted) { return; }
    var target = document.querySelector("main [aria-invalid=true]")
      || document.querySelector("main .error[role=alert], main p.error, .messages .message-error")
      || document.querySelector(".messages");
    if (!target) { return; }
    if (!target.matches("input, select, textarea, button, a[href]")) {
      target.setAttribute("tabindex", "-1");
    }
    target.focus();
  }

  // Label each cell of a list with its column's heading, for the phone layout's cards.
  function labelListCells() {
    document.querySelectorAll("table.list").forEach(function (table) {
      var headings = Array.prototype.map.call(
        table.querySelectorAll("thead th"), function (th) { return th.textContent.trim(); });
      if (!headings.length) { return; }
      table.querySelectorAll("tbody tr").forEach(function (row) {
        var column = 0;
        Array.prototype.forEach.call(row.children, function (cell) {
          if (!cell.hasAttribute("data-label") && headings[column] !== undefined) {
            cell.setAttribute("data-label", cell.colSpan > 1 ? "" : headings[column]);
          }
          column += cell.colSpan || 1;
        });
      });
    });
  }

  // The approving body picked is not the health center of the institution's address: say
  // so at once, before '권한 신청' (the server asks to confirm it too).
  function wireHomeBodyHints() {
    document.querySelectorAll("[data-home-body]").forEach(function (hint) {
      var select = hint.parentElement.querySelector("select");
      if (!select) { return; }
      var home = hint.getAttribute("data-home-body");
      var plain = hint.textContent;
      function update() {
        var away = select.value && select.value !== home;
        hint.classList.toggle("warning", !!away);
        hint.setAttribute("role", away ? "alert" : "note");
        hint.textContent = away ? hint.getAttribute("data-away-text") + " " + plain : plain;
      }
      select.addEventListener("change", update);
      update();
    });
  }

  onReady(function () {
    labelListCells();
    wireHomeBodyHints();
    wireDialogs(); wireCountdowns(); wireIdCheck(); wirePickers(); wireOnce(); wireConfirm();
    wireFocusAfterSubmit();
  });
})();

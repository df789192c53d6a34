/* Partner portal behaviour: charts, copy buttons, confirmations, the menu and the payment form.
   Loaded from a static file; data comes from json_script blocks and data- attributes (no inline script). */
(function () {
  "use strict";

  function ready(fn) {
    if (document.readyState !== "loading") fn();
    else document.addEventListener("DOMContentLoaded", fn);
  }

  function copy(button) {
    var target = document.getElementById(button.getAttribute("data-copy"));
    if (!target) return;
    var text = target.value || target.textContent;
    var done = function () {
      var label = button.textContent;
      button.textContent = "Copied";
      button.classList.add("copied");
      setTimeout(function () { button.textContent = label; button.classList.remove("copied"); }, 1500);
    };
    if (navigator.clipboard && window.isSecureContext) {
      navigator.clipboard.writeText(text).then(done, function () { target.select(); document.execCommand("copy"); done(); });
    } else {
      target.select();
      document.execCommand("copy");
      done();
    }
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("[data-copy]");
    if (button) { event.preventDefault(); copy(button); return; }
    var toggle = event.target.closest("[data-nav-toggle]");
    if (toggle) {
      var nav = document.getElementById(toggle.getAttribute("aria-controls"));
      var open = nav.classList.toggle("open");
      toggle.setAttribute("aria-expanded", open ? "true" : "false");
    }
  });

  document.addEventListener("submit", function (event) {
    var form = event.target.closest("form[data-confirm]");
    if (form && !window.confirm(form.getAttribute("data-confirm"))) event.preventDefault();
  });

  function paymentForm() {
    var form = document.querySelector("[data-payment-form]");
    if (!form) return;
    var select = form.querySelector("select[name=payment_method]");
    var sync = function () {
      form.querySelectorAll("fieldset[data-method]").forEach(function (set) {
        var methods = set.getAttribute("data-method").split(" ");
        var shown = methods.indexOf(select.value) !== -1;
        set.classList.toggle("hidden", !shown);
        set.disabled = !shown;
      });
    };
    select.addEventListener("change", sync);
    sync();
  }

  var COLORS = ["#1d4ed8", "#059669", "#d97706", "#7c3aed", "#db2777", "#0891b2"];

  function lineChart(canvas, labels, datasets, money) {
    if (!canvas || !window.Chart) return;
    new window.Chart(canvas, {
      type: "line",
      data: {
        labels: labels,
        datasets: datasets.map(function (d, i) {
          return { label: d.label, data: d.data.map(Number), borderColor: COLORS[i % COLORS.length],
                   backgroundColor: COLORS[i % COLORS.length], cubicInterpolationMode: "monotone", pointRadius: labels.length > 60 ? 0 : 2,
                   yAxisID: d.axis || "y" };
        })
      },
      options: {
        responsive: true, maintainAspectRatio: false, animation: false,
        interaction: { mode: "index", intersect: false },
        plugins: { legend: { position: "bottom" } },
        scales: {
          x: { ticks: { maxTicksLimit: 8 } },
          y: { beginAtZero: true, ticks: { precision: money ? 2 : 0 } }
        }
      }
    });
  }

  function charts() {
    var node = document.getElementById("chart-data");
    if (!node) return;
    var data = JSON.parse(node.textContent);
    lineChart(document.getElementById("chart-traffic"), data.labels, [
      { label: "Clicks", data: data.clicks },
      { label: "Registrations", data: data.registrations },
      { label: "FTDs", data: data.ftds }
    ], false);
    var money = [
      { label: "Deposits (" + data.currency + ")", data: data.deposits },
      { label: "Revenue (" + data.currency + ")", data: data.revenue }
    ];
    Object.keys(data.commission).forEach(function (currency) {
      money.push({ label: "Commission (" + currency + ")", data: data.commission[currency] });
    });
    lineChart(document.getElementById("chart-money"), data.labels, money, true);
  }

  ready(function () { paymentForm(); charts(); });
})();

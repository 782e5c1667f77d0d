// Keeps the open-SEVs table current: every few seconds, the rows as the server renders
// them (escaped there), swapped in only when they changed.
(function () {
  var status = document.getElementById("live-status");
  var rows = document.getElementById("open-rows");
  if (!status || !rows) return;
  var source = status.getAttribute("data-source");
  var last = rows.innerHTML;
  function refresh() {
    fetch(source, { credentials: "same-origin", cache: "no-store" })
      .then(function (r) {
        if (!r.ok) throw new Error(r.status);
        return r.text();
      })
      .then(function (html) {
        if (html !== last) {
          rows.innerHTML = html;
          last = html;
        }
        status.textContent = "Updated " + new Date().toLocaleTimeString() + ".";
      })
      .catch(function () {
        status.textContent = "Not updating: sevbot did not answer. Retrying.";
      });
  }
  setInterval(refresh, 2000);
})();

// paygate console: the only script. It updates a replay's progress live; every page works
// without it (the progress is also on the page as served).
(function () {
  "use strict";
  var box = document.getElementById("replay-progress");
  if (!box) { return; }
  var url = box.getAttribute("data-progress-url");
  function tick() {
    fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (response) { return response.ok ? response.json() : null; })
      .then(function (progress) {
        if (!progress) { return; }
        document.getElementById("replay-status").textContent = progress.status;
        document.getElementById("replay-enqueued").textContent = String(progress.enqueued);
        if (progress.completed_at) {
          document.getElementById("replay-completed").textContent = "Completed " + progress.completed_at;
        }
        if (progress.status !== "completed") { setTimeout(tick, 1000); }
      })
      .catch(function () { setTimeout(tick, 3000); });
  }
  tick();
})();

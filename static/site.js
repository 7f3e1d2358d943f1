// Progressive enhancement only: every page works without this file.
// Move focus to the error summary so keyboard and screen-reader users hear what went wrong.
document.addEventListener('DOMContentLoaded', function () {
  var summary = document.querySelector('[data-error-summary]');
  if (summary) { summary.focus(); }
});

// A live count of characters left under text areas that have a limit (the server checks the
// limit whatever happens here).
document.addEventListener('DOMContentLoaded', function () {
  var areas = document.querySelectorAll('textarea[data-maxlength]');
  Array.prototype.forEach.call(areas, function (area) {
    var limit = parseInt(area.getAttribute('data-maxlength'), 10);
    var count = document.getElementById(area.id + '-count');
    if (!count || !limit) { return; }
    var update = function () {
      var left = limit - Array.from(area.value).length;
      count.textContent = left >= 0
        ? 'You have ' + left + ' characters left.'
        : 'You have ' + (-left) + ' characters too many.';
    };
    count.hidden = false;
    area.addEventListener('input', update);
    update();
  });
});

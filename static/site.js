// Progressive enhancement only: every page works without this file.
// Move focus to the error summary so keyboard and screen-reader users hear what went wrong.
document.addEventListener('DOMContentLoaded', function () {
  var summary = document.querySelector('[data-error-summary]');
  if (summary) { summary.focus(); }
});

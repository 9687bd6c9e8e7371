// Kehu's small helpers: Tom Select on marked selects, htmx CSRF header is set on <body>.
document.addEventListener("DOMContentLoaded", () => {
  document.querySelectorAll("select[data-picker]").forEach((el) => {
    if (window.TomSelect && !el.tomselect) new TomSelect(el, { maxOptions: 200 });
  });
});

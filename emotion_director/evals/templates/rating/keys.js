var sent = false;  // one choice per page: a held or doubled key sends nothing more
document.addEventListener('keydown', function (e) {
  if (sent || e.ctrlKey || e.metaKey || e.altKey || e.repeat) return;
  if (e.target && /^(INPUT|TEXTAREA|SELECT)$/.test(e.target.tagName)) return;
  var ids = {a: 'choose-left', ArrowLeft: 'choose-left', '1': 'choose-left',
             b: 'choose-right', ArrowRight: 'choose-right', '2': 'choose-right',
             t: 'choose-tie', '=': 'choose-tie', s: 'choose-skip', u: 'undo'};
  var button = document.getElementById(ids[e.key] || ids[e.key.toLowerCase()]);
  if (button && !button.disabled) {
    e.preventDefault(); sent = true; button.form.requestSubmit(button);
  }
});

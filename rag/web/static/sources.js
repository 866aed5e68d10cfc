// js_on_load of the sources panel: a click on a source chip shows that source (the cite
// event); the highlighted sentence is scrolled into view.
element.addEventListener('click', (event) => {
  const target = event.target.closest('[data-turn][data-n]');
  if (!target || !element.contains(target)) return;
  trigger('cite', {turn: Number(target.dataset.turn), n: Number(target.dataset.n)});
});
watch('value', () => {
  const mark = element.querySelector('mark.rc-page-hl') || element.querySelector('mark.rc-hl');
  if (mark) mark.scrollIntoView({block: 'nearest'});
});

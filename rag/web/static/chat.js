// js_on_load of the chat panel: a click on a citation marker or a source chip asks the
// server for that source (the cite event); the marker stays lit while it is shown.
element.addEventListener('click', (event) => {
  const target = event.target.closest('[data-turn][data-n]');
  if (!target || !element.contains(target)) return;
  element.querySelectorAll('.rc-active').forEach((el) => el.classList.remove('rc-active'));
  target.classList.add('rc-active');
  trigger('cite', {turn: Number(target.dataset.turn), n: Number(target.dataset.n)});
});
watch('value', () => {
  // keep the newest message in view while it streams
  let box = element.querySelector('.rc-chat');
  while (box && box !== document.body) {
    const style = getComputedStyle(box);
    if (/(auto|scroll)/.test(style.overflowY) && box.scrollHeight > box.clientHeight) {
      box.scrollTop = box.scrollHeight;
      break;
    }
    box = box.parentElement;
  }
});

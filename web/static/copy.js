/* Copy buttons, as a progressive enhancement: without JavaScript (or without the Clipboard API,
   which needs https or localhost) the buttons stay hidden and the read-only fields can still be
   selected and copied by hand. A button names its field in data-copy; the result is announced in
   the element with the field's id followed by "-status". */
(() => {
  "use strict";
  if (!navigator.clipboard) {
    return;
  }
  for (const button of document.querySelectorAll("button[data-copy]")) {
    const field = document.getElementById(button.dataset.copy);
    const status = document.getElementById(`${button.dataset.copy}-status`);
    if (!field || !status) {
      continue;
    }
    button.hidden = false;
    button.addEventListener("click", async () => {
      try {
        await navigator.clipboard.writeText(field.value);
        status.textContent = "Copied.";
      } catch {
        field.select();
        status.textContent = "Could not copy: the link is selected, press Ctrl+C (⌘C on a Mac).";
      }
    });
  }
})();

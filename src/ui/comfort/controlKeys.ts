/**
 * v86's keyboard listens on window and takes every key that is not typed into an input or a
 * textarea (it sends it to the guest and prevents the default), so Enter and Space never reached
 * a focused button, select, link or summary: the page could not be used by keyboard. Keys aimed
 * at a page control stop at the document, before v86's listener; their default action (pressing
 * the button) happens as usual. The terminal is a textarea and keeps its keys; a VGA-only guest
 * gets the keys when nothing on the page has the focus (click its screen).
 */
const CONTROLS = "button, select, a[href], summary, [role='button'], [role='menuitem'], [role='tab'], dialog";

export function keepControlKeys(doc: Document): void {
  for (const type of ["keydown", "keyup", "keypress"]) {
    doc.addEventListener(type, (event) => {
      const target = event.target;
      if (target instanceof Element && target.closest(CONTROLS) !== null) event.stopPropagation();
    });
  }
}

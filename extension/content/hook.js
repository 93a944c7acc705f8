/* Detour's browser extension: the main-world hook.

   The File System Access API hands a page file handles without any input element
   (showOpenFilePicker, showDirectoryPicker, a dropped item's getAsFileSystemHandle, handles kept in
   IndexedDB), so the content script can't see those files. This wraps the one way to read them,
   FileSystemFileHandle.prototype.getFile: it answers only once Detour allowed the file (the
   content script checks it), and checks again when the file changed; a stopped file is a
   NotAllowedError, as when the person refuses access. The port to the content script is posted
   before any page script runs, and the content script, listening first, keeps the message from
   the page. */

(() => {
  "use strict";

  const Handle = globalThis.FileSystemFileHandle;
  if (typeof Handle !== "function" || typeof Handle.prototype.getFile !== "function") return; // Firefox, Safari
  const getFile = Handle.prototype.getFile;
  const channel = new MessageChannel();
  const waiting = new Map();
  const verdicts = new WeakMap(); // handle -> {size, lastModified, allowed: Promise<boolean>}
  let next = 0;
  channel.port1.onmessage = ({ data }) => {
    const settle = waiting.get(data?.id);
    waiting.delete(data?.id);
    if (settle) settle(data.allowed === true);
  };
  window.postMessage({ detourHook: "port" }, "*", [channel.port2]);

  const check = (file) => new Promise((resolve) => {
    next += 1;
    waiting.set(next, resolve);
    channel.port1.postMessage({ id: next, file });
  });

  Object.defineProperty(Handle.prototype, "getFile", {
    configurable: true,
    writable: true,
    value: async function getFileChecked() {
      const file = await getFile.call(this);
      let known = verdicts.get(this);
      if (!known || known.size !== file.size || known.lastModified !== file.lastModified) {
        known = { size: file.size, lastModified: file.lastModified, allowed: check(file) };
        verdicts.set(this, known);
      }
      if (!(await known.allowed)) throw new DOMException("Detour stopped this file.", "NotAllowedError");
      return file;
    },
  });
})();

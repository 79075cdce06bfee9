// The printable case report's one control: a script file rather than an inline onclick, so the page runs
// under a script-src of 'self' alone.
const button = typeof document !== "undefined" ? document.getElementById("print-report") : null;
if (button) button.addEventListener("click", () => window.print());

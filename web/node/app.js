// hie-node web app: the one script every page loads (no inline script: the CSP forbids it).
// A page the browser restores from its back/forward cache (after signing out, say) is
// asked for again, so the node decides what it shows: the sign-in form once the session
// has ended, never the last user's page from memory.
window.addEventListener('pageshow', (event) => {
  if (event.persisted) window.location.reload();
});

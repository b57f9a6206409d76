/** @jsxRuntime automatic @jsxImportSource hono/jsx */
import { Notice } from '../components.tsx';
import { Document } from '../layout.tsx';
import { paths } from '../paths.ts';

/**
 * The sign-in form: the admin token, posted once, then a session cookie stands for it. `next` is
 * where to go afterwards; `error` says why the last try failed (never echoing what was typed).
 */
export function SignInPage(props: { readonly next: string; readonly error: string | null }) {
  return (
    <Document title="Sign in">
      <main id="main" class="signin">
        <h1>
          <img src={paths.icon} alt="" width="28" height="28" />
          hookmesh
        </h1>
        <p class="lead spaced-below">The operator's dashboard. Sign in with the mesh's admin token.</p>
        <Notice notice={props.error ? { tone: 'error', text: props.error } : null} />
        <form method="post" action={paths.signIn} class="panel">
          <input type="hidden" name="next" value={props.next} />
          <div class="field">
            <label for="admin-token">Admin token</label>
            <input
              id="admin-token"
              name="token"
              type="password"
              required
              autocomplete="current-password"
              autofocus
              aria-describedby="admin-token-hint"
            />
            <span class="hint" id="admin-token-hint">
              HOOKMESH_ADMIN_TOKEN; the development token is printed when the mesh starts.
            </span>
          </div>
          <button type="submit" class="btn">
            Sign in
          </button>
        </form>
      </main>
    </Document>
  );
}

/** A page for what cannot be shown: refused (403), missing (404), not configured (503). */
export function MessagePage(props: {
  readonly title: string;
  readonly text: string;
  readonly link: boolean;
  /** Where "Back" goes (default: the overview). */
  readonly back?: string;
}) {
  return (
    <Document title={props.title}>
      <main id="main" class="signin">
        <h1>{props.title}</h1>
        <p class="lead">{props.text}</p>
        {props.link ? (
          <p class="spaced">
            <a href={props.back ?? paths.overview}>Back to the dashboard</a>
          </p>
        ) : null}
      </main>
    </Document>
  );
}

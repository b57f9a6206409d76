/** @jsxRuntime automatic @jsxImportSource hono/jsx */
import type { Child } from 'hono/jsx';
import { CsrfField } from './components.tsx';
import { paths } from './paths.ts';

export type Section = 'overview' | 'events' | 'deliveries' | 'subscriptions' | 'catalog';

const SECTIONS: readonly { readonly key: Section; readonly label: string; readonly href: string }[] = [
  { key: 'overview', label: 'Overview', href: paths.overview },
  { key: 'events', label: 'Events', href: paths.events },
  { key: 'deliveries', label: 'Deliveries', href: paths.deliveries },
  { key: 'subscriptions', label: 'Subscriptions', href: paths.subscriptions },
  { key: 'catalog', label: 'Event catalog', href: paths.catalog },
];

/** The HTML document around every page: landmarks, the stylesheet the mesh serves, no script. */
export function Document(props: { readonly title: string; readonly children: Child }) {
  return (
    <html lang="en">
      <head>
        <meta charset="utf-8" />
        <meta name="viewport" content="width=device-width, initial-scale=1" />
        <meta name="robots" content="noindex, nofollow" />
        <meta name="color-scheme" content="light dark" />
        <title>{`${props.title} · hookmesh`}</title>
        <link rel="icon" href={paths.icon} type="image/svg+xml" />
        <link rel="stylesheet" href={paths.css} />
      </head>
      <body>{props.children}</body>
    </html>
  );
}

/** A signed-in page: the bar (name, sections, sign out) and the page's own content. */
export function Layout(props: {
  readonly title: string;
  readonly section: Section | null;
  readonly csrf: string;
  readonly children: Child;
}) {
  return (
    <Document title={props.title}>
      <a class="skip" href="#main">
        Skip to content
      </a>
      <header class="bar">
        <div class="bar-inner">
          <a class="brand" href={paths.overview}>
            <img src={paths.icon} alt="" width="22" height="22" />
            hookmesh
          </a>
          <nav class="nav" aria-label="Dashboard">
            <ul>
              {SECTIONS.map((s) => (
                <li>
                  <a href={s.href} aria-current={s.key === props.section ? 'page' : undefined}>
                    {s.label}
                  </a>
                </li>
              ))}
            </ul>
          </nav>
          <form method="post" action={paths.signOut}>
            <CsrfField token={props.csrf} />
            <button type="submit" class="btn btn-quiet btn-small">
              Sign out
            </button>
          </form>
        </div>
      </header>
      <main id="main">{props.children}</main>
    </Document>
  );
}

/** A page's heading line: its title, a sentence saying what it is, and room for an action. */
export function PageHead(props: {
  readonly title: string;
  readonly lead?: Child;
  readonly children?: Child;
}) {
  return (
    <div class="page-head">
      <div>
        <h1>{props.title}</h1>
        {props.lead ? <p class="lead">{props.lead}</p> : null}
      </div>
      {props.children ?? null}
    </div>
  );
}

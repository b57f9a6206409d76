/** @jsxRuntime automatic @jsxImportSource hono/jsx */
import type { EventSummary } from '../../../core/event-search.ts';
import { Notice, type NoticeMessage, Pager, StatusTally, TableBox, toQuery, When } from '../components.tsx';
import { formatCount } from '../format.ts';
import { Layout, PageHead } from '../layout.tsx';
import { paths } from '../paths.ts';

export interface EventsData {
  readonly events: readonly EventSummary[];
  /** The type the list is narrowed to, if any. */
  readonly type: string | null;
  /** The app's domain event types, for the type filter. */
  readonly domainTypes: readonly string[];
  /** The id searched for, when nothing had it. */
  readonly missingId: string | null;
  readonly next: string | null;
  readonly first: string | null;
  readonly now: number;
}

/** Find one event by id, or browse the newest, all of them or of one type. */
export function EventsPage(props: {
  readonly data: EventsData;
  readonly csrf: string;
  readonly notice: NoticeMessage | null;
}) {
  const { events, type, domainTypes, missingId, now } = props.data;
  // A type typed into the URL that the app does not define is still offered, so the form says what is shown.
  const types = type !== null && !domainTypes.includes(type) ? [...domainTypes, type] : domainTypes;
  return (
    <Layout title="Events" section="events" csrf={props.csrf}>
      <PageHead title="Events" lead="Domain events the mesh accepted, newest first." />
      <Notice
        notice={
          missingId === null ? props.notice : { tone: 'error', text: `No event has the id “${missingId}”.` }
        }
      />
      <div class="panel">
        <div class="filters">
          <form method="get" action={paths.events} class="filters grow" aria-label="Find an event by id">
            <div class="field grow">
              <label for="event-id">Event id</label>
              <input
                id="event-id"
                name="id"
                required
                maxlength={200}
                value={missingId ?? ''}
                autocomplete="off"
                spellcheck={false}
              />
            </div>
            <button type="submit" class="btn">
              Find
            </button>
          </form>
          <form method="get" action={paths.events} class="filters" aria-label="Filter events by type">
            <div class="field">
              <label for="event-type">Type</label>
              <select id="event-type" name="type">
                <option value="">Any type</option>
                {types.map((t) => (
                  <option value={t} selected={t === type}>
                    {t}
                  </option>
                ))}
              </select>
            </div>
            <button type="submit" class="btn btn-quiet">
              Filter
            </button>
          </form>
        </div>
      </div>
      <TableBox label="Events">
        {events.length === 0 ? (
          <p class="empty">{type ? `No ${type} events.` : 'No events yet.'}</p>
        ) : (
          <table>
            <caption class="visually-hidden">
              {type ? `${type} events, newest first` : 'Events, newest first'}
            </caption>
            <thead>
              <tr>
                <th scope="col">Event</th>
                <th scope="col">Type</th>
                <th scope="col" class="hide-narrow">
                  Source
                </th>
                <th scope="col">Received</th>
                <th scope="col" class="num hide-narrow">
                  Integration events
                </th>
                <th scope="col">Deliveries</th>
              </tr>
            </thead>
            <tbody>
              {events.map((e) => (
                <tr>
                  <th scope="row">
                    <a class="id" href={paths.event(e.id)}>
                      {e.id}
                    </a>
                  </th>
                  <td>
                    <a href={`${paths.events}${toQuery({ type: e.type })}`}>{e.type}</a>
                  </td>
                  <td class="hide-narrow">{e.source}</td>
                  <td>
                    <When at={e.receivedAt} now={now} />
                  </td>
                  <td class="num hide-narrow">{formatCount(e.integrationEvents)}</td>
                  <td>
                    <StatusTally counts={e.deliveries} />
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </TableBox>
      <Pager first={props.data.first} next={props.data.next} label="Pages of events" />
    </Layout>
  );
}

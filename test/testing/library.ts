import * as v from 'valibot';
import { defineConverter } from '../../src/core/converter.ts';
import { defineDomainEvent } from '../../src/core/domain-event.ts';
import { defineIntegrationEvent } from '../../src/core/integration-event.ts';
import { defineMesh } from '../../src/core/mesh-definition.ts';
import { defineSubscription } from '../../src/core/subscription.ts';

// A user's own app, not the orders example: a library lends books and reminds members.

export const BookLent = defineDomainEvent(
  'BookLent',
  v.object({
    loanId: v.pipe(v.string(), v.minLength(1)),
    book: v.object({ isbn: v.string(), title: v.string() }),
    memberId: v.string(),
    days: v.pipe(v.number(), v.integer(), v.minValue(1)),
  }),
);

export const ReminderDue = defineDomainEvent(
  'ReminderDue',
  v.object({ loanId: v.string(), memberId: v.string(), dueOn: v.string() }),
);

export const BookLentV1 = defineIntegrationEvent(
  'book.lent.v1',
  v.object({ loanId: v.string(), isbn: v.string(), memberId: v.string(), days: v.number() }),
);

export const ReminderDueV1 = defineIntegrationEvent(
  'reminder.due.v1',
  v.object({ loanId: v.string(), memberId: v.string(), dueOn: v.string() }),
);

export const LOANS_URL = 'https://loans.example.com';

export const converters = [
  defineConverter(BookLent, BookLentV1, (e) => ({
    loanId: e.data.loanId,
    isbn: e.data.book.isbn,
    memberId: e.data.memberId,
    days: e.data.days,
  })),
  defineConverter(ReminderDue, ReminderDueV1, (e) => e.data),
];

/** Loans is a service of its own; reminders are handled next to the mesh, on its own URL. */
export const libraryMesh = defineMesh(({ publicUrl }) => ({
  converters,
  subscriptions: [
    defineSubscription(BookLentV1, `${LOANS_URL}/webhooks/book.lent.v1`, { id: 'loans' }),
    defineSubscription(ReminderDueV1, `${publicUrl}/webhooks/reminder.due.v1`, { id: 'reminders' }),
  ],
}));

export const lending = (loanId: string) => ({
  loanId,
  book: { isbn: '978-0-00-000000-1', title: 'Dune' },
  memberId: 'm-7',
  days: 14,
});

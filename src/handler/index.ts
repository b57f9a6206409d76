// The handler side (a consuming service's entry): filled by "The spine, part 2".
export type {
  IntegrationEvent,
  IntegrationEventDefinition,
  IntegrationEventOf,
} from '../core/integration-event.ts';
export { defineIntegrationEvent } from '../core/integration-event.ts';

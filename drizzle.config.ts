import { defineConfig } from 'drizzle-kit';

// Dialect `sqlite` (not `turso`): its SQL is accepted by libSQL and by Cloudflare D1 alike.
export default defineConfig({
  dialect: 'sqlite',
  schema: './src/store/schema.ts',
  out: './migrations',
});

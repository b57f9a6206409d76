// The one member of workerd's built-in `cloudflare:workers` module the entry uses, declared here so
// the project needs no `@cloudflare/workers-types`: the isolate's bindings, readable in global scope.
declare module 'cloudflare:workers' {
  export const env: Readonly<Record<string, unknown>>;
}

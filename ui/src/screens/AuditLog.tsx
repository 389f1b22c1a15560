export function AuditLog() {
  return <section className="screen" data-testid="screen-audit" />;
}

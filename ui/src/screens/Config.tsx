export function Config() {
  return <section className="screen" data-testid="screen-config" />;
}

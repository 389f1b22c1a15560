export function Stats() {
  return <section className="screen" data-testid="screen-stats" />;
}

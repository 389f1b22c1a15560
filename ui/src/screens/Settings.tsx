export function Settings() {
  return <section className="screen" data-testid="screen-settings" />;
}

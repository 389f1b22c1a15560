export function DeadLetters() {
  return <section className="screen" data-testid="screen-dead-letters" />;
}

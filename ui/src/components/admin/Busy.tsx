/** A loading line in the admin's words (States.Loading words its own). */
export function Busy({ text }: { text: string }) {
  return (
    <p className="muted loading" role="status">
      {text}
    </p>
  );
}

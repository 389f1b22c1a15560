import { useEffect, useState } from 'react';
import QRCode from 'qrcode';

/** The text as a QR code: an SVG made by the `qrcode` package, shown as an <img>. */
export function QrCode({ text, alt, testId }: { text: string; alt: string; testId?: string }) {
  const [src, setSrc] = useState<string | null>(null);
  useEffect(() => {
    let live = true;
    QRCode.toString(text, { type: 'svg', errorCorrectionLevel: 'M', margin: 2 }).then(
      (svg) => {
        if (live) setSrc(`data:image/svg+xml;charset=utf-8,${encodeURIComponent(svg)}`);
      },
      () => {
        if (live) setSrc(null);
      },
    );
    return () => {
      live = false;
    };
  }, [text]);
  if (!src) return <div className="admin-qr admin-qr-empty" aria-hidden="true" />;
  return <img className="admin-qr" src={src} alt={alt} data-testid={testId} width={200} height={200} />;
}

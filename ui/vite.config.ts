/// <reference types="vitest/config" />
import { defineConfig } from 'vite';
import react from '@vitejs/plugin-react';

// The Tauri shell loads ui/dist from its own protocol, so asset paths stay relative;
// the dev server port is the devUrl tauri.conf.json points at.
export default defineConfig({
  base: './',
  plugins: [react()],
  clearScreen: false,
  server: {
    port: 1420,
    strictPort: true,
  },
  build: {
    outDir: 'dist',
    // WebKitGTK on older distributions is roughly Safari 13.
    target: ['es2021', 'safari13'],
  },
  test: {
    environment: 'jsdom',
    setupFiles: ['./src/test/setup.ts'],
    css: false,
    // Absolute times in tests read the same on every machine.
    env: { TZ: 'UTC' },
  },
});

import { defineConfig } from "vitest/config";

// Everything the page needs is in the build: no font, script or style from elsewhere.
export default defineConfig({
  base: "/",
  build: { outDir: "dist", emptyOutDir: true, target: "es2022", sourcemap: false },
  test: { include: ["test/**/*.test.ts"], environment: "node" },
});

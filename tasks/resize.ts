import { secret, task } from "fluid-tasks";
import { z } from "zod";

/** Shows every kind of param the CLI maps to flags: `fluid run resize --help`. */
export const resize = task(
  {
    description: "Resize images (a demo of params: number, boolean, enum, array, optional, default, secret)",
    params: z.object({
      width: z.number().int().positive().describe("target width in pixels"),
      height: z.number().int().positive().optional().describe("target height; keeps the aspect ratio when left out"),
      format: z.enum(["png", "jpeg", "webp"]).default("png").describe("output format"),
      sharpen: z.boolean().default(false).describe("sharpen after resizing"),
      files: z.array(z.string()).default([]).describe("files to resize"),
      apiToken: secret(z.string().optional()).describe("token for the image service"),
    }),
    tags: ["demo"],
    timeout: "30s",
  },
  async (ctx) => {
    const { width, height, format, sharpen, files } = ctx.params;
    ctx.log.info(`resizing ${files.length} file(s) to ${width}x${height ?? "auto"} ${format}${sharpen ? " (sharpened)" : ""}`);
    return { resized: files.length, width, height: height ?? null, format };
  },
);

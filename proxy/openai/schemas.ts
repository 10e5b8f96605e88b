/** zod schemas of the request bodies the gateway reads; unknown fields are kept and forwarded untouched. */
import { z } from "zod";

const model = z.string().min(1);
const stream = z.boolean().nullish();

/** `POST /v1/chat/completions`: the fields the gateway reads. */
export const ChatCompletionBody = z.looseObject({
  model,
  messages: z.array(z.unknown()).min(1),
  stream,
});

/** `POST /v1/completions`. */
export const CompletionBody = z.looseObject({
  model,
  prompt: z.union([z.string(), z.array(z.unknown())]),
  stream,
});

/** `POST /v1/embeddings`. */
export const EmbeddingBody = z.looseObject({
  model,
  input: z.union([z.string(), z.array(z.unknown())]),
});

/** Fields every OpenAI body the gateway routes has. */
export interface RoutedBody {
  model: string;
  stream?: boolean | null | undefined;
}

// The official Node.js SDK against the service: every endpoint a Node client would call, with the
// results printed as one JSON object for tests/service/api/test_node_sdk.py to check. Settings come from the
// environment (SERVICE_BASE_URL, SERVICE_API_KEY, CHAT_MODEL, EMBEDDING_MODEL).
import OpenAI from "openai";

const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
};
const client = new OpenAI({ baseURL: env("SERVICE_BASE_URL"), apiKey: env("SERVICE_API_KEY"), maxRetries: 0 });
const chatModel = env("CHAT_MODEL");
const embeddingModel = env("EMBEDDING_MODEL");

const outputText = (response) =>
  (response?.output ?? [])
    .flatMap((item) => item.content ?? [])
    .filter((part) => part.type === "output_text")
    .map((part) => part.text)
    .join("");

async function notFound(call) {
  try {
    await call();
    return { raised: null };
  } catch (error) {
    return { raised: error.constructor.name, status: error.status, code: error.code, param: error.param };
  }
}

const chat = await client.chat.completions.create({
  model: chatModel,
  messages: [{ role: "user", content: "Say hello" }],
});
const response = await client.responses.create({ model: chatModel, input: "Say hello" });
const events = [];
const stream = await client.responses.create({ model: chatModel, input: "Say hello", stream: true });
let streamed = "";
let completed = null;
for await (const event of stream) {
  events.push(event.type);
  if (event.type === "response.output_text.delta") streamed += event.delta;
  if (event.type === "response.completed") completed = event.response;
}
const embeddings = await client.embeddings.create({ model: embeddingModel, input: ["one", "two"] });
const model = await client.models.retrieve(chatModel);

console.log(
  JSON.stringify({
    chat: { object: chat.object, text: chat.choices[0].message.content, usage: chat.usage },
    response: { object: response.object, status: response.status, text: response.output_text, usage: response.usage },
    stream: { events, text: streamed, completed_text: outputText(completed), usage: completed?.usage ?? null },
    embeddings: { count: embeddings.data.length, dimensions: embeddings.data[0].embedding.length, usage: embeddings.usage },
    model: { id: model.id, object: model.object },
    unknown: {
      chat: await notFound(() =>
        client.chat.completions.create({ model: "gpt-unknown", messages: [{ role: "user", content: "hi" }] }),
      ),
      responses: await notFound(() => client.responses.create({ model: "gpt-unknown", input: "hi" })),
      embeddings: await notFound(() => client.embeddings.create({ model: "embedding-unknown", input: "hi" })),
      model: await notFound(() => client.models.retrieve("gpt-unknown")),
    },
  }),
);

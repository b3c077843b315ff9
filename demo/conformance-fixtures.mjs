// The tools, resources and prompts that the official MCP conformance suite's server scenarios
// call (@modelcontextprotocol/conformance, suite "active"). Registering them on the demo origin
// lets the suite run against the origin directly and through the gateway in one run.
import { z } from 'zod';
import { ResourceTemplate } from '@modelcontextprotocol/sdk/server/mcp.js';
import {
  CompleteRequestSchema,
  SetLevelRequestSchema,
  SubscribeRequestSchema,
  UnsubscribeRequestSchema,
} from '@modelcontextprotocol/sdk/types.js';

// A 1x1 PNG and a tiny WAV, base64.
const PNG = 'iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg==';
const WAV = 'UklGRiYAAABXQVZFZm10IBAAAAABAAEAQB8AAAB9AAACABAAZGF0YQIAAAA=';
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const text = (t) => ({ content: [{ type: 'text', text: t }] });
const userText = (t) => ({ role: 'user', content: { type: 'text', text: t } });

function registerContentTools(s) {
  s.registerTool('test_simple_text', { description: 'Returns simple text', inputSchema: {} }, async () =>
    text('This is a simple text response for testing.'));
  s.registerTool('test_image_content', { description: 'Returns an image', inputSchema: {} }, async () => ({
    content: [{ type: 'image', data: PNG, mimeType: 'image/png' }],
  }));
  s.registerTool('test_audio_content', { description: 'Returns audio', inputSchema: {} }, async () => ({
    content: [{ type: 'audio', data: WAV, mimeType: 'audio/wav' }],
  }));
  s.registerTool('test_embedded_resource', { description: 'Returns an embedded resource', inputSchema: {} }, async () => ({
    content: [{ type: 'resource', resource: { uri: 'test://embedded-resource', mimeType: 'text/plain', text: 'This is an embedded resource content.' } }],
  }));
  s.registerTool('test_multiple_content_types', { description: 'Returns mixed content', inputSchema: {} }, async () => ({
    content: [
      { type: 'text', text: 'Multiple content types test:' },
      { type: 'image', data: PNG, mimeType: 'image/png' },
      { type: 'resource', resource: { uri: 'test://mixed-content-resource', mimeType: 'application/json', text: '{"test":"data","value":123}' } },
    ],
  }));
  s.registerTool('test_error_handling', { description: 'Always fails', inputSchema: {} }, async () => {
    throw new Error('This tool intentionally returns an error for testing');
  });
}

function registerStreamingTools(s) {
  s.registerTool('test_tool_with_logging', { description: 'Logs while running', inputSchema: {} }, async (_args, { sendNotification }) => {
    for (const [i, data] of ['Tool execution started', 'Tool processing data', 'Tool execution completed'].entries()) {
      if (i) await sleep(50);
      await sendNotification({ method: 'notifications/message', params: { level: 'info', data } });
    }
    return text('Tool with logging executed successfully');
  });
  s.registerTool('test_tool_with_progress', { description: 'Reports progress', inputSchema: {} }, async (_args, { sendNotification, _meta }) => {
    const progressToken = _meta?.progressToken;
    for (const [i, progress] of [0, 50, 100].entries()) {
      if (i) await sleep(50);
      if (progressToken !== undefined) {
        await sendNotification({ method: 'notifications/progress', params: { progressToken, progress, total: 100 } });
      }
    }
    return text('Tool with progress executed successfully');
  });
}

// Server-to-client requests carry relatedRequestId so they ride the tool call's own SSE stream,
// not the separate GET stream, which may not be open yet when the call arrives.
function registerClientRequestTools(s) {
  const related = (extra) => ({ relatedRequestId: extra.requestId });
  s.registerTool('test_sampling', { description: 'Asks the client to sample', inputSchema: { prompt: z.string() } }, async ({ prompt }, extra) => {
    const r = await s.server.createMessage({ messages: [userText(prompt)], maxTokens: 100 }, related(extra));
    return text(`LLM response: ${r.content?.type === 'text' ? r.content.text : JSON.stringify(r.content)}`);
  });
  const elicit = (name, description, message, properties) =>
    s.registerTool(name, { description, inputSchema: name === 'test_elicitation' ? { message: z.string() } : {} }, async (args, extra) => {
      const r = await s.server.elicitInput(
        { message: args.message ?? message, requestedSchema: { type: 'object', properties, required: name === 'test_elicitation' ? ['username', 'email'] : [] } },
        related(extra),
      );
      const prefix = name === 'test_elicitation' ? 'User response' : 'Elicitation completed';
      return text(`${prefix}: action=${r.action}, content=${JSON.stringify(r.content || {})}`);
    });
  elicit('test_elicitation', 'Asks the user', undefined, {
    username: { type: 'string', description: "User's response" },
    email: { type: 'string', description: "User's email address" },
  });
  elicit('test_elicitation_sep1034_defaults', 'Elicitation with defaults', 'Please review and update the form fields with defaults', {
    name: { type: 'string', description: 'User name', default: 'John Doe' },
    age: { type: 'integer', description: 'User age', default: 30 },
    score: { type: 'number', description: 'User score', default: 95.5 },
    status: { type: 'string', description: 'User status', enum: ['active', 'inactive', 'pending'], default: 'active' },
    verified: { type: 'boolean', description: 'Verification status', default: true },
  });
  const titled = (prefix) => ['value1', 'value2', 'value3'].map((v, i) => ({ const: v, title: `${['First', 'Second', 'Third'][i]} ${prefix}` }));
  elicit('test_elicitation_sep1330_enums', 'Elicitation with enums', 'Please select options from the enum fields', {
    untitledSingle: { type: 'string', description: 'Select one option', enum: ['option1', 'option2', 'option3'] },
    titledSingle: { type: 'string', description: 'Select one option with titles', oneOf: titled('Option') },
    legacyEnum: { type: 'string', description: 'Select one option (legacy)', enum: ['opt1', 'opt2', 'opt3'], enumNames: ['Option One', 'Option Two', 'Option Three'] },
    untitledMulti: { type: 'array', description: 'Select multiple options', minItems: 1, maxItems: 3, items: { type: 'string', enum: ['option1', 'option2', 'option3'] } },
    titledMulti: { type: 'array', description: 'Select multiple options with titles', minItems: 1, maxItems: 3, items: { anyOf: titled('Choice') } },
  });
}

function registerResources(s) {
  const fixed = (name, uri, mimeType, body) =>
    s.registerResource(name, uri, { description: name, mimeType }, async () => ({ contents: [{ uri, mimeType, ...body }] }));
  fixed('static-text', 'test://static-text', 'text/plain', { text: 'This is the content of the static text resource.' });
  fixed('static-binary', 'test://static-binary', 'image/png', { blob: PNG });
  fixed('watched-resource', 'test://watched-resource', 'text/plain', { text: 'Watched resource content' });
  s.registerResource('template', new ResourceTemplate('test://template/{id}/data', { list: undefined }), { description: 'templated', mimeType: 'application/json' },
    async (uri, { id }) => ({ contents: [{ uri: uri.href, mimeType: 'application/json', text: JSON.stringify({ id, templateTest: true, data: `Data for ID: ${id}` }) }] }));
  s.server.setRequestHandler(SubscribeRequestSchema, async () => ({}));
  s.server.setRequestHandler(UnsubscribeRequestSchema, async () => ({}));
  s.server.setRequestHandler(SetLevelRequestSchema, async () => ({}));
}

function registerPrompts(s) {
  s.registerPrompt('test_simple_prompt', { description: 'A simple prompt' }, async () => ({
    messages: [userText('This is a simple prompt for testing.')],
  }));
  s.registerPrompt('test_prompt_with_arguments', { description: 'A prompt with arguments', argsSchema: { arg1: z.string(), arg2: z.string() } },
    async ({ arg1, arg2 }) => ({ messages: [userText(`Prompt with arguments: arg1='${arg1}', arg2='${arg2}'`)] }));
  s.registerPrompt('test_prompt_with_embedded_resource', { description: 'A prompt with a resource', argsSchema: { resourceUri: z.string() } },
    async ({ resourceUri }) => ({
      messages: [
        { role: 'user', content: { type: 'resource', resource: { uri: resourceUri, mimeType: 'text/plain', text: 'Embedded resource content for testing.' } } },
        userText('Please process the embedded resource above.'),
      ],
    }));
  s.registerPrompt('test_prompt_with_image', { description: 'A prompt with an image' }, async () => ({
    messages: [{ role: 'user', content: { type: 'image', data: PNG, mimeType: 'image/png' } }, userText('Please analyze the image above.')],
  }));
  s.server.setRequestHandler(CompleteRequestSchema, async () => ({ completion: { values: [], total: 0, hasMore: false } }));
}

export const CONFORMANCE_CAPABILITIES = { resources: { subscribe: true }, prompts: {}, logging: {}, completions: {} };

export function registerConformanceFixtures(server) {
  registerContentTools(server);
  registerStreamingTools(server);
  registerClientRequestTools(server);
  registerResources(server);
  registerPrompts(server);
}

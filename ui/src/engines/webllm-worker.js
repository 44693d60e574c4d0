// WebLLM runs here, off the UI thread, so the page never freezes while the GPU works.
import { WebWorkerMLCEngineHandler } from '@mlc-ai/web-llm';
import { installLoopbackCaches } from './loopback-caches.js';

installLoopbackCaches(self);
const handler = new WebWorkerMLCEngineHandler();
self.onmessage = (message) => handler.onmessage(message);

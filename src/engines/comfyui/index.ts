export { ComfyClient, newClientId, type PromptProgress, type PromptResult, type RunPromptOptions } from './client.js';
export { ComfyServerFailure, isServerFailure } from './comfy-errors.js';
export { createComfyEngine, type ComfyEngine, type ComfyEngineOptions, type PreparedComfyEngine } from './engine.js';
export {
  prepareComfyDeployment,
  type ComfyDeployment,
  type ComfyGraphSource,
  type DeployedServer,
} from './prepare-comfy-deployment.js';
export { renderOnServer, type RenderOnServerOptions } from './render-on-server.js';
export { comfyuiConfigSchema, workflowMapSchema, type ComfyuiConfig, type WorkflowMap } from './comfy-config.js';
export {
  bindWorkflowMap,
  fillCustomWorkflow,
  loadCustomWorkflow,
  parseWorkflowGraph,
  type CustomWorkflow,
} from './custom-workflow.js';
export {
  checkBuiltin,
  checkCustom,
  inspectServer,
  readCatalogue,
  type ServerCatalogue,
  type ServerReport,
} from './preflight.js';
export {
  DEFAULT_TUNING,
  lightningSteps,
  normalizeServerUrl,
  resolveComfySettings,
  type ComfySettings,
  type ComfyTuning,
} from './settings.js';
export { buildSegmentGraph, motionSchedule, NODE, type GraphSettings } from './workflow.js';

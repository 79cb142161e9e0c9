/** Activity entry point: workflows import the `Activities` type from here, the worker the factory. */
export type { Activities, ActivityDeps } from './create-activities.js';
export { createActivities } from './create-activities.js';

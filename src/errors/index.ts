export { CategorizedError, errorCategory, type ErrorCategory } from './categorized-error';

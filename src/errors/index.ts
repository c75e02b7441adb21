export { CategorizedError, ERROR_CATEGORIES, errorCategory, type ErrorCategory } from './categorized-error';
